// The TLSEngine module; its parts arrive with their issues.
