"""Allow ``python -m asgiforge`` wherever the console script is not on PATH."""

from asgiforge.cli import main

if __name__ == "__main__":
    main()
