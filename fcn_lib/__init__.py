"""FCN Sneakers."""
