"""Products and their partner-programme settings."""
