"""The restoration engine. Runs headless: nothing under restorer.core imports Qt."""
