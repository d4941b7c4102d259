from legion_misp.cli import main

main()
