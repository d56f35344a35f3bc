from socialsim.cli.main import main

main()
