export { FERRY_VERSION as VERSION } from '@ferry/format-spec';
