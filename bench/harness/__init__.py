"""The benchmark harness behind ``make bench`` (bench/run.py); pure parts are unit-tested."""
