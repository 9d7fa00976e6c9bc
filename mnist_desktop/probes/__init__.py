"""Programs the benchmark runs in fresh processes (by path, so that nothing of the package is
imported before a probe's first line): each prints one JSON line of what it measured."""
