// The data source the TypeORM CLI uses (`npm run migration:*`), built from the same environment as the service.
import 'reflect-metadata';
import { loadConfig } from '../config/config';
import { createDataSource } from './data-source';

export default createDataSource(loadConfig(process.env));
