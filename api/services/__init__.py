"""The use cases behind the REST API, the dashboard and the CLI: one implementation each, so all three behave alike."""
