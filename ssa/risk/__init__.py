"""The learned risk score: features and labels read, training, scoring."""
