import { packageConfig } from '../../tools/config/tsup.base';

export default packageConfig();
