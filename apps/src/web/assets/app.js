// The page: filled in by the page work of issue 17.
