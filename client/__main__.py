from client.cli.main import main

main()
