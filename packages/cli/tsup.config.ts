import { packageConfig } from '../../tools/config/tsup.base';

export default packageConfig({ entry: ['src/index.ts', 'src/bin.ts'] });
