// The plugin's commands are in ./commands; its logic is exported for tests and other plugins.
export {
  CONTAINER_NAME,
  DEFAULT_IMAGE,
  DEFAULT_PORT,
  startTemporal,
  statusExitCode,
  stopTemporal,
  temporalSpec,
  temporalStatus,
} from './temporal.js'
