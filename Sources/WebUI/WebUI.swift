// The WebUI module; its parts arrive with their issues.
