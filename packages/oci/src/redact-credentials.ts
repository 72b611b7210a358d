// Credentials in image references: implemented beside printable() in @ferry/format-spec, so
// the CLI shell (cli-kit) can apply it to every error and log line as a last defence; exported
// here because references are this package's business.
export { hasCredentials, redactCredentials, redactReference } from '@ferry/format-spec';
