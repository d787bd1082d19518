"""One module per subcommand; see restorer.cli."""
