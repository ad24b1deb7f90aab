"""Pupils and rosters: who is on a school's roll in a year, with the characteristics reports group by."""
