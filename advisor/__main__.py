from advisor.present.cli import main

main()
