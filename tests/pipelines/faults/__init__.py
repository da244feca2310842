"""Fault tolerance and secrecy end to end: every fault Stripe, the network or the machine can produce."""
