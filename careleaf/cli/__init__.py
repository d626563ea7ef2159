"""The command line: parse options, call the library, turn its errors into plain messages."""
