import { log } from '../log/logger.ts';

log.info('ocinit launcher');
