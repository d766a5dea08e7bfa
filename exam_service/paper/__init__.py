"""Paper exams: shuffled forms, booklets, keys, answer sheets, paper answers and scans."""
