"""National tracking: ballistic/boost motion models, EKF/IMM filters, association, track
management, and launch- and impact-point prediction. Arrays in, arrays out; the one
stateful object is :class:`NationalTracker`, which holds the track table.
"""
