import packageJson from '../package.json' with { type: 'json' };

export const OCINIT_VERSION: string = packageJson.version;
