"""The example banks of classification steps: seeded examples, searched for each case."""
