"""A sandbox card processor with a hosted checkout page (not part of Millennium)."""
