"""Plants for campaign scenarios: a draft campaign whose audience was built some days ago."""
