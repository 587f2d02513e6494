"""Test helpers shared by several test modules (broker access, TCP fault injection)."""
