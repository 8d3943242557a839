"""Command-line applications (sarl-demo)."""
