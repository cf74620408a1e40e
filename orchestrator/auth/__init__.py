"""Who is acting. Services receive an :class:`Actor`; routes get it from :data:`ActorDep`."""
