// The data source the TypeORM CLI uses (`npm run migration:*`), built from the same environment and entities as the service.
import 'reflect-metadata';
import { loadConfig } from './config/config';
import { createDataSource } from './database/data-source';
import { ENTITIES } from './store/entities';

export default createDataSource(loadConfig(process.env), ENTITIES);
