"""The official lists every stage reads: the Kepmendagri region list (the area) and the national calendar."""
