"""What the board does, with no HTTP in it."""
