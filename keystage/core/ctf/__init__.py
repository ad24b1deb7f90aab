"""The Common Transfer File (CTF): DfE's XML for moving pupils and their results between schools,
MIS, local authorities and the DfE. See shared/domain/ctf.md for the structure."""
