"""What leaves the warehouse for people: the exports, the detection
report's figures, and the dashboard."""
