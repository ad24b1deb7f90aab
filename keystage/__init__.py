"""keystage: statutory assessment results for English schools, trusts and local authorities."""
