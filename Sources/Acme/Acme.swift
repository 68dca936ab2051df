// The Acme module; its parts arrive with their issues.
