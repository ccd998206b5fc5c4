"""Executors: run an instance's tests against a candidate patch and grade the result."""
