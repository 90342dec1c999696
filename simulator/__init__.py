"""The simulator: a carrier with scripted callees, their personas, the offline scripted model and the
agent evaluation. It fakes the network and the person on the other end, never a decision: outcomes
come from the same disposition path as on a live call.
"""
