"""PDF files: WeasyPrint behind one door (engine), tag repair, the DRAFT mark, page facts, merging, booklets, the audit."""
