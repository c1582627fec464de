"""AutoMirror's local cloud: moto plus the traffic-mirroring parts moto lacks."""
