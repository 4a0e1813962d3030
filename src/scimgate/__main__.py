from scimgate.cli import main

main()
