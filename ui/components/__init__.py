"""Browser components with their own JavaScript, one folder each."""
