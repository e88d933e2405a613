// The data source the TypeORM CLI uses (`npm run migration:*`), built from the same environment and entities as the
// service. Only the database variables are read: migrations need no KEY_HASH_SECRET.
import 'reflect-metadata';
import { loadDatabaseConfig } from './config/database-config';
import { createDataSource } from './database/data-source';
import { ENTITIES } from './store/entities';

export default createDataSource(loadDatabaseConfig(process.env), ENTITIES);
