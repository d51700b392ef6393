"""config-manager: per-component config and feature flags, versioned, with long-poll watch."""
