import sys

from exam_service.cli import main

sys.exit(main())
