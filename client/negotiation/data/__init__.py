"""Package data: the versioned vocabulary files (a package so setuptools ships *.json)."""
