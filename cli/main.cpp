// attnio: the command-line front end (cli/commands.cpp dispatches to the commands in cli/commands/).
#include "commands.hpp"

int main(int argc, char** argv) { return attnio::cli::run(std::vector<std::string>(argv + 1, argv + argc)); }
