"""CPU renderer: landmark rig, mouth interior, frame loop."""
